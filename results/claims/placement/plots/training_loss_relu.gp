# Re-plot by hand: gnuplot training_loss_relu.gp (writes training_loss_relu.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('training_loss_relu.gp')]
if (!exists('out')) out = here . 'training_loss_relu.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'cifar-cnn, relu: training loss, BN before vs after the activation (each at its chosen rate)'
set xlabel 'step'
set ylabel 'training loss (mean of 20 steps)'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
plot here . 'training_loss_relu.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'relu-before (lr 0.01)', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'relu-after (lr 0.01)'
