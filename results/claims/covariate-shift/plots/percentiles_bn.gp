set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/covariate-shift/plots/percentiles_bn.png.tmp'
set title 'bn: input to a typical last-hidden-layer sigmoid'
set xlabel 'step'
set ylabel 'sigmoid input'
set key top right
set grid
plot 'results/claims/covariate-shift/plots/percentiles_bn.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'unit 10: 50th percentile (band: 15th to 85th)'
