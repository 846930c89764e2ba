set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/learning-rate/plots/training_loss_lr1.png.tmp'
set title 'small-cnn: training loss at lr 1, the smallest rate where no BN failed'
set xlabel 'step'
set ylabel 'training loss (mean of 20 steps)'
set key top right
set grid
set logscale y
set format y '%g'
plot 'results/claims/learning-rate/plots/training_loss_lr1.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn'
